"""The CLIs' shared plumbing (#30.3, #30.4): ``--help`` before TensorFlow, checks before the model
loads, model names in any case, C++ stderr silenced but Python's kept, folders a failed run
created removed. Fast: no model is loaded."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_help_answers_before_tensorflow_is_imported():
    code = ("import sys\n"
            "from tools import demo, predict\n"
            "for tool in (predict, demo):\n"
            "    try:\n"
            "        tool.main(['--help'])\n"
            "    except SystemExit as e:\n"
            "        assert e.code == 0\n"
            "heavy = sorted(m for m in ('tensorflow', 'keras', 'numpy', 'cv2') if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--verbose" in proc.stdout and "--format" in proc.stdout
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tools.predict", "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    seconds = time.perf_counter() - t
    print(f"\npython -m tools.predict --help: {seconds:.2f} s")
    assert proc.returncode == 0 and "usage: python -m tools.predict" in proc.stdout
    assert seconds < 10  # about 0.3 s on a quiet machine; the assertion above is the real check


def test_model_names_in_any_case_and_suggestions():
    from tools._cli import model_name
    from zoo.registry import ModelNotFoundError

    assert model_name("Hourglass-LSP") == "hourglass-lsp"
    assert model_name(" SimpleBaseline-LSP@2 ") == "simplebaseline-lsp@2"
    assert model_name(None) is None
    with pytest.raises(ModelNotFoundError, match=r"did you mean hourglass-lsp\?"):
        model_name("hourglas-lsp")
    with pytest.raises(ModelNotFoundError, match="Known models: "):
        model_name("zzz")


def test_output_folder_is_checked_without_creating_it(tmp_path):
    from tools._cli import check_writable_folder

    assert check_writable_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(PermissionError, match="is a file, not a folder"):
        check_writable_folder(tmp_path / "file" / "out")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="not writable"):
            check_writable_folder(locked / "out")


def test_a_failed_run_removes_the_empty_folders_it_created(tmp_path):
    from tools._cli import removing_created_folders

    (tmp_path / "exports").mkdir()
    out, exports = tmp_path / "out" / "run", tmp_path / "exports" / "model" / "1"
    with pytest.raises(KeyboardInterrupt):
        with removing_created_folders(out, exports):
            exports.mkdir(parents=True)
            out.mkdir(parents=True)
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports"]
    assert list((tmp_path / "exports").iterdir()) == []  # it existed before: kept
    # Results written before the failure are kept, with their folders.
    with pytest.raises(ValueError):
        with removing_created_folders(out):
            out.mkdir(parents=True)
            (out / "a_pose.json").write_text("{}")
            raise ValueError("second image failed")
    assert (out / "a_pose.json").is_file()
    # A run that succeeds keeps even an empty folder.
    with removing_created_folders(tmp_path / "empty"):
        (tmp_path / "empty").mkdir()
    assert (tmp_path / "empty").is_dir()


def test_native_stderr_is_silenced_and_python_stderr_kept(capfd):
    from tools._cli import quiet_native

    with quiet_native():
        os.write(2, b"fully_quantize: 0, inference_type: 6 (printed by C++)\n")
        print("exporting ... (a progress line)", file=sys.stderr, flush=True)
    with quiet_native(verbose=True):
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    err = capfd.readouterr().err
    assert "fully_quantize" not in err and "a progress line" in err and "XNNPACK" in err


def test_run_gives_one_line_errors_and_lets_others_through(capsys):
    from tools._cli import run
    from zoo.io import ImageError

    def fails(exc):
        def main(argv):
            raise exc
        return main

    assert run(fails(ImageError("x.jpg: damaged")), [], start_tensorflow=False) == 2
    assert capsys.readouterr().err == "error: x.jpg: damaged\n"
    assert run(fails(KeyboardInterrupt()), [], start_tensorflow=False) == 130
    with pytest.raises(RuntimeError):
        run(fails(RuntimeError("a bug")), [], start_tensorflow=False)
