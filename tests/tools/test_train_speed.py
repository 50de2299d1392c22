"""``python -m tools.train_speed`` times a recipe's steps per setting, each in its own process."""

import json
import subprocess
import sys


def test_times_a_tiny_recipe_and_writes_json(tmp_path, lspet_root):
    out = tmp_path / "speed.json"
    done = subprocess.run([sys.executable, "-m", "tools.train_speed", "hourglass_tiny", "--steps", "2", "--warmup", "1",
                           "--settings", "mixed_bfloat16:off", "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert set(result["machine"]) >= {"cpu", "amx_bf16", "avx512_bf16"}
    rows = {r["precision"]: r for r in result["rows"]}
    assert set(rows) == {"mixed_bfloat16"}
    for row in rows.values():
        assert "error" not in row, row
        assert row["images_per_second"] > 0 and row["batch_size"] == 4 and row["xla"] is False
    assert "images/s" in done.stdout


def test_bad_settings_are_refused():
    done = subprocess.run([sys.executable, "-m", "tools.train_speed", "hourglass_tiny", "--settings", "fp8:on"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "fp8" in done.stderr
