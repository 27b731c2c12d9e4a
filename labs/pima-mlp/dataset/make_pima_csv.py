"""How pima.csv was made (run once, by hand; not part of grading).

Source: the Pima Indians diabetes data, 768 women, 8 features, as the R package mlbench ships it
(``PimaIndiansDiabetes``), taken from Debian's package ``r-cran-mlbench`` 2.1-3-1 (GPL-2), file
``usr/lib/R/site-library/mlbench/data/PimaIndiansDiabetes.rda``, read with the PyPI package ``rdata``::

    apt-get download r-cran-mlbench && dpkg-deb -x r-cran-mlbench_2.1-3-1_amd64.deb deb
    python -m venv venv && venv/bin/pip install rdata
    venv/bin/python make_pima_csv.py deb/usr/lib/R/site-library/mlbench/data/PimaIndiansDiabetes.rda

Values are as mlbench has them (a 0 in glucose, pressure, triceps, insulin or mass stands for a missing
measurement, as in the original data). ``diabetes`` is 1 for "pos", 0 for "neg". ``split``: a stratified
quarter of each class is the test set, the rows of each class with the smallest blake2b-64 of
``"0:{row}"`` (the rule of cnngrade's MNIST bundle), so the split does not depend on any library's
random generator.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

import rdata

COLUMNS = ("pregnant", "glucose", "pressure", "triceps", "insulin", "mass", "pedigree", "age")


def _key(row: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"0:{row}".encode(), digest_size=8).digest(), "big")


def main(rda: str) -> None:
    frame = rdata.conversion.convert(rdata.parser.parse_file(rda))["PimaIndiansDiabetes"]
    labels = [1 if value == "pos" else 0 for value in frame["diabetes"]]
    test: set[int] = set()
    for label in (0, 1):
        rows = sorted((r for r in range(len(labels)) if labels[r] == label), key=_key)
        test.update(rows[: len(rows) // 4])
    out = Path(__file__).with_name("pima.csv")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*COLUMNS, "diabetes", "split"])
        for row in range(len(labels)):
            values = [f"{float(frame[column].iloc[row]):g}" for column in COLUMNS]
            writer.writerow([*values, labels[row], "test" if row in test else "train"])
    print(out, hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main(sys.argv[1])
