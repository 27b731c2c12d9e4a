"""``cnngrade merge``: the output folders of a class's shards joined into one.

Each shard's folder holds ``batch.json`` (its shard K/N, the class's names, the students of its shard)
and a record per student. Merging refuses, saying which folder and what to do: a folder that is no
batch's output, shards of different classes or of different N, a shard given twice (an overlap), a
shard missing, or a shard whose students are not all graded yet (a gap). The merged folder holds every
student's folder, ``gradebook.csv`` and a ``batch.json`` of the whole class (shard 1/1).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from cnngrade.batch import atomic
from cnngrade.batch.gradebook import Record, read_records, write_gradebook
from cnngrade.batch.intake import slug_of
from cnngrade.batch.runner import MANIFEST

__all__ = ["MergeError", "merge"]


class MergeError(Exception):
    """Shards that cannot be merged; the message says which and why."""


@dataclass(frozen=True)
class _Shard:
    folder: Path
    index: int
    count: int
    roster: tuple[str, ...]
    students: tuple[str, ...]


def _read(folder: Path) -> _Shard:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        index, count = manifest["shard"]
        return _Shard(folder, int(index), int(count), tuple(manifest["class"]), tuple(manifest["students"]))
    except FileNotFoundError:
        raise MergeError(f"{folder} is not the output folder of a `cnngrade batch` (no {MANIFEST})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise MergeError(f"{folder}/{MANIFEST} is damaged ({exc})") from None


def merge(folders: list[Path], out: Path) -> dict[str, Record]:
    """Check the shards in ``folders`` (see the module's docstring) and write them merged into ``out``;
    the merged records, by slug."""
    shards = [_read(folder) for folder in folders]
    first = shards[0]
    for shard in shards[1:]:
        if shard.count != first.count:
            raise MergeError(f"{shard.folder} is shard {shard.index}/{shard.count} but {first.folder} is shard "
                             f"{first.index}/{first.count}: merge the shards of one split")
        if shard.roster != first.roster:
            raise MergeError(f"{shard.folder} and {first.folder} graded different classes (their submissions "
                             "folders held different students): grade every shard from the same folder")
    by_index: dict[int, _Shard] = {}
    for shard in shards:
        if shard.index in by_index:
            raise MergeError(f"shard {shard.index}/{shard.count} is given twice: {by_index[shard.index].folder} and "
                             f"{shard.folder} (an overlap)")
        by_index[shard.index] = shard
    missing = [k for k in range(1, first.count + 1) if k not in by_index]
    if missing:
        raise MergeError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{k}/{first.count}' for k in missing)} "
                         f"{'are' if len(missing) > 1 else 'is'} missing (a gap): grade "
                         f"{'them' if len(missing) > 1 else 'it'} with `cnngrade batch ... --shard "
                         f"{missing[0] if len(missing) == 1 else 'K'}/{first.count}`")
    merged: dict[str, Record] = {}
    sources: dict[str, Path] = {}
    for shard in (by_index[k] for k in sorted(by_index)):
        records = read_records(shard.folder)
        ungraded = [name for name in shard.students if slug_of(name) not in records]
        if ungraded:
            shown = ", ".join(ungraded[:5]) + (f" and {len(ungraded) - 5} more" if len(ungraded) > 5 else "")
            raise MergeError(f"shard {shard.index}/{shard.count} in {shard.folder} has not graded {len(ungraded)} of "
                             f"its {len(shard.students)} students ({shown}), a gap: run its batch again to finish it")
        for name in shard.students:
            slug = slug_of(name)
            if slug in merged:
                raise MergeError(f"{name} was graded in two shards ({sources[slug]} and {shard.folder}), an overlap")
            merged[slug], sources[slug] = records[slug], shard.folder
    out.mkdir(parents=True, exist_ok=True)
    for slug, folder in sources.items():
        built = atomic.new_dir(out)
        shutil.copytree(folder / slug, built, dirs_exist_ok=True)
        atomic.replace_dir(built, out / slug)
    manifest = {"shard": [1, 1], "class": list(first.roster), "students": list(first.roster),
                "merged": [str(s.folder) for s in shards]}
    atomic.write_text(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    write_gradebook(out, merged.values())
    return merged
