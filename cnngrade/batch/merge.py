"""``cnngrade merge``: the output folders of a class's shards joined into one.

Each shard's folder holds ``batch.json`` (its shard K/N, the class's names, the students of its shard,
the submissions folder, ``"finished": true`` once its batch has ended) and a record per student.
Merging refuses, saying which folder and what to type: a folder that is no batch's output, an ``--out``
that is one of the shards, shards of different classes or of different N, a shard given twice (an
overlap), a shard missing, and a gap: a shard whose batch has not finished, or that holds a student
whose grading failed with an error of cnngrade's (status ``error``, graded again by the next run of that
shard's batch). The merged folder holds every student's folder, ``gradebook.csv`` and a ``batch.json``
of the whole class (shard 1/1, finished, no errors).
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from cnngrade.batch import atomic
from cnngrade.batch.gradebook import Record, read_records, write_gradebook
from cnngrade.batch.intake import slug_of
from cnngrade.batch.runner import MANIFEST

__all__ = ["MergeError", "merge"]

#: names shown in a message before "and N more"
_SHOWN = 5


class MergeError(Exception):
    """Shards that cannot be merged; the message says which, why, and what to do."""


@dataclass(frozen=True)
class _Shard:
    folder: Path
    index: int
    count: int
    roster: tuple[str, ...]
    students: tuple[str, ...]
    submissions: str
    finished: bool

    def __str__(self) -> str:
        return f"shard {self.index}/{self.count} ({self.folder})"

    def command(self, out: Path | None = None, index: int | str | None = None) -> str:
        """The ``cnngrade batch`` command that grades this shard (or shard ``index`` of its split into ``out``)."""
        folder = self.folder if out is None else out
        return (f"cnngrade batch {shlex.quote(self.submissions)} --out {shlex.quote(str(folder))} "
                f"--shard {self.index if index is None else index}/{self.count}")


def _names(names: list[str]) -> str:
    """``a, b, c, d, e and 3 more``."""
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _read(folder: Path) -> _Shard:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        index, count = manifest["shard"]
        return _Shard(folder, int(index), int(count), tuple(manifest["class"]), tuple(manifest["students"]),
                      str(manifest.get("submissions", "SUBMISSIONS")), manifest.get("finished") is True)
    except FileNotFoundError:
        raise MergeError(f"{folder} is not the output folder of a `cnngrade batch` (it has no {MANIFEST}): give "
                         "merge the --out folders of the shards' batches") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise MergeError(f"{folder}/{MANIFEST} is damaged ({exc}): grade that shard again into a fresh folder "
                         "(`cnngrade batch SUBMISSIONS --out FOLDER --shard K/N`) and merge that one") from None


def _check_split(shards: list[_Shard]) -> dict[int, _Shard]:
    """The shards by index, once each shard of one split of one class is there."""
    first = shards[0]
    for shard in shards[1:]:
        if shard.count != first.count:
            raise MergeError(f"{shard} and {first} belong to different splits (N = {shard.count} and {first.count}): "
                             "merge the folders of one split, every `--shard K/N` with the same N")
        if shard.roster != first.roster:
            raise MergeError(f"{shard.folder} and {first.folder} graded different classes (their submissions "
                             "folders held different students): grade every shard from the same submissions folder, "
                             "then merge")
    by_index: dict[int, _Shard] = {}
    for shard in shards:
        if shard.index in by_index:
            raise MergeError(f"shard {shard.index}/{shard.count} is given twice: {by_index[shard.index].folder} and "
                             f"{shard.folder} (an overlap): give merge one folder per shard, leaving one of these "
                             "two out")
        by_index[shard.index] = shard
    missing = [k for k in range(1, first.count + 1) if k not in by_index]
    if len(missing) == 1:
        raise MergeError(f"shard {missing[0]}/{first.count} is missing (a gap): grade it with "
                         f"`{first.command(Path('FOLDER'), missing[0])}` and give merge that folder too")
    if missing:
        raise MergeError(f"shards {', '.join(f'{k}/{first.count}' for k in missing)} are missing (a gap): grade each "
                         f"with `{first.command(Path('FOLDER'), 'K')}` (K = {', '.join(map(str, missing))}), each "
                         "into a folder of its own, and give merge those folders too")
    return by_index


def _gap(shard: _Shard, records: dict[str, Record]) -> str | None:
    """Why ``shard`` is not finished (its batch did not end, or a student's grading failed), or None."""
    ungraded = [name for name in shard.students if slug_of(name) not in records]
    failed = [name for name in shard.students if slug_of(name) in records and records[slug_of(name)].status == "error"]
    if shard.finished and not ungraded and not failed:
        return None
    why = []
    if not shard.finished or ungraded:
        why.append("its batch has not finished" + (f": {len(ungraded)} of its {len(shard.students)} students not "
                                                   f"graded ({_names(ungraded)})" if ungraded else ""))
    if failed:
        why.append(f"{len(failed)} of its students ({_names(failed)}) ended in an error of cnngrade's (status "
                   "`error`)")
    return f"{shard}: {'; '.join(why)}. Run `{shard.command()}` (with the options it was graded with) to finish it"


def merge(folders: list[Path], out: Path) -> dict[str, Record]:
    """Check the shards in ``folders`` (see the module's docstring) and write them merged into ``out``;
    the merged records, by slug."""
    shards = [_read(folder) for folder in folders]
    if out in folders:
        raise MergeError(f"--out {out} is one of the shards' folders: merge into a folder of its own")
    by_index = _check_split(shards)
    records = {k: read_records(shard.folder) for k, shard in by_index.items()}
    gaps = [gap for k in sorted(by_index) if (gap := _gap(by_index[k], records[k])) is not None]
    if gaps:
        raise MergeError(f"{len(gaps)} shard{'s are' if len(gaps) > 1 else ' is'} not finished (a gap):\n  "
                         + "\n  ".join(gaps))
    merged: dict[str, Record] = {}
    sources: dict[str, Path] = {}
    for k in sorted(by_index):
        shard = by_index[k]
        for name in shard.students:
            slug = slug_of(name)
            if slug in merged:
                raise MergeError(f"{name} was graded in two shards ({sources[slug]} and {shard.folder}), an overlap: "
                                 "grade both shards again from the same submissions folder, then merge")
            merged[slug], sources[slug] = records[k][slug], shard.folder
    out.mkdir(parents=True, exist_ok=True)
    for slug, folder in sources.items():
        built = atomic.new_dir(out)
        shutil.copytree(folder / slug, built, dirs_exist_ok=True)
        atomic.replace_dir(built, out / slug)
    first = shards[0]
    manifest = {"shard": [1, 1], "class": list(first.roster), "students": list(first.roster),
                "submissions": first.submissions, "merged": [str(s.folder) for s in shards], "finished": True,
                "errors": []}
    atomic.write_text(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    write_gradebook(out, merged.values())
    return merged
