"""Shards (``cnngrade.batch.shards``) from ``--shard K/N`` and from each job engine's variables, and the
refusals of ``cnngrade merge`` (``cnngrade.batch.merge``), on shard folders written here (no grading).

The Slurm variables are those a real Slurm 22.05 sets (tests/test_slurm.py submits these arrays):
``--array=1,2,4`` gives MIN 1, MAX 4, STEP 1, COUNT 3; ``--array=1-5:2`` gives MIN 1, MAX 5, STEP 2,
COUNT 3; ``--array=3`` gives MIN 3, MAX 3, STEP 1, COUNT 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnngrade.batch.gradebook import Record, read_records, write_gradebook, write_student
from cnngrade.batch.merge import MergeError, merge
from cnngrade.batch.runner import MANIFEST
from cnngrade.batch.shards import Shard, ShardError, parse_shard, shard_from_env
from cnngrade.commands import merge as merge_command


def slurm(task: int, first: int, last: int, step: int, count: int, **more: str) -> dict[str, str]:
    """The variables Slurm gives array task ``task`` of an array of ``count`` tasks from ``first`` to ``last``."""
    return {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_MIN": str(first), "SLURM_ARRAY_TASK_MAX": str(last),
            "SLURM_ARRAY_TASK_STEP": str(step), "SLURM_ARRAY_TASK_COUNT": str(count), "SLURM_ARRAY_JOB_ID": "17",
            **more}


def refusal(env: dict[str, str]) -> str:
    """The message of the ShardError that ``env`` gives."""
    with pytest.raises(ShardError) as caught:
        shard_from_env(env)
    return str(caught.value)


# --------------------------------------------------------------------------- --shard K/N


def test_a_shard_is_k_of_n_and_splits_the_class_by_name():
    assert parse_shard("2/3") == Shard(2, 3)
    for bad, words in [("3", "expected K/N"), ("4/3", "needs 1 <= K <= N"), ("0/2", "needs 1 <= K <= N")]:
        with pytest.raises(ShardError, match=words):
            parse_shard(bad)
    names = [f"student{i}" for i in range(300)]
    parts = [{n for n in names if Shard(k, 3).holds(n)} for k in (1, 2, 3)]
    assert set().union(*parts) == set(names) and sum(map(len, parts)) == 300 and min(map(len, parts)) > 70
    more = [{n for n in [*names, "newcomer"] if Shard(k, 3).holds(n)} for k in (1, 2, 3)]
    assert [p - {"newcomer"} for p in more] == parts  # a new student moves no one else


# --------------------------------------------------------------------------- Slurm


@pytest.mark.parametrize(("array", "first", "last", "step", "tasks"), [
    ("1-3", 1, 3, 1, [1, 2, 3]),
    ("0-7", 0, 7, 1, [0, 1, 2, 3, 4, 5, 6, 7]),
    ("1-5:2", 1, 5, 2, [1, 3, 5]),
    ("0-6:3", 0, 6, 3, [0, 3, 6]),
])
def test_a_slurm_array_is_the_whole_split_its_tasks_numbered_in_order(array, first, last, step, tasks):
    shards = [shard_from_env(slurm(task, first, last, step, len(tasks))) for task in tasks]
    assert shards == [Shard(k, len(tasks)) for k in range(1, len(tasks) + 1)], array
    assert shards[-1].source == f"Slurm's array task {tasks[-1]} of {first}-{last}:{step}"


def test_a_task_submitted_alone_is_refused_not_read_as_the_whole_class():
    message = refusal(slurm(3, 3, 3, 1, 1))
    assert message.startswith("Slurm array task 3 is the only task of its array (a task submitted alone, such as "
                              "`sbatch --array=3`)"), message
    assert "pass `--shard K/N` to `cnngrade batch`, or export CNNGRADE_SHARDS=N before `sbatch`" in message
    assert message.endswith("(Task 3 of an array counted from 0 was shard 4/N: pass `--shard 4/N` for it.)")
    assert refusal(slurm(1, 1, 1, 1, 1)).startswith("Slurm array task 1 is the only task of its array")


def test_with_cnngrade_shards_the_task_id_is_the_shard_number():
    alone = shard_from_env(slurm(3, 3, 3, 1, 1, CNNGRADE_SHARDS="3"))
    assert alone == Shard(3, 3) and alone.source == "Slurm's SLURM_ARRAY_TASK_ID 3 and $CNNGRADE_SHARDS"
    listed = [shard_from_env(slurm(task, 1, 4, 1, 3, CNNGRADE_SHARDS="4")) for task in (1, 2, 4)]
    assert listed == [Shard(1, 4), Shard(2, 4), Shard(4, 4)]
    again = [shard_from_env(slurm(task, 2, 3, 1, 2, CNNGRADE_SHARDS="3")) for task in (2, 3)]
    assert again == [Shard(2, 3), Shard(3, 3)]


@pytest.mark.parametrize(("env", "seen"), [
    (slurm(1, 1, 5, 2, 3, CNNGRADE_SHARDS="3"), "this array runs tasks 1 to 5"),
    (slurm(0, 0, 2, 1, 3, CNNGRADE_SHARDS="3"), "this array runs tasks 0 to 2"),
    (slurm(4, 4, 4, 1, 1, CNNGRADE_SHARDS="3"), "this array runs tasks 4 to 4"),
])
def test_with_cnngrade_shards_every_task_id_must_be_a_shard_number(env, seen):
    """Refused in every task of the array (task 1 of 1-5:2 too), so no task grades a shard another should."""
    message = refusal(env)
    assert message == (f"$CNNGRADE_SHARDS is 3, so each Slurm array task id is its shard number, from 1 to 3, but "
                       f"{seen}: submit task ids within 1-3 (`sbatch --array=1-3 ...`, or only the ones to grade "
                       "again), or unset CNNGRADE_SHARDS to number the array's tasks in order")


def test_a_listed_array_without_cnngrade_shards_is_refused_with_the_fix():
    for task in (1, 2, 4):
        message = refusal(slurm(task, 1, 4, 1, 3))
        assert message.startswith("this Slurm array's 3 tasks, from 1 to 4, are not evenly spaced (a list such as "
                                  f"`--array=1,2,4`), so task {task}'s place in the split is unknown: pass `--shard "
                                  "K/N`"), message
        assert message.endswith("or submit an evenly spaced array (`--array=1-N`, or `--array=1-M:S`)")
    # Slurm's STEP is the last one written: --array=1,3,8-10:2 gives STEP 2, and 8 is off the step
    assert "not evenly spaced" in refusal(slurm(8, 1, 10, 2, 4))


def test_part_of_an_array_submitted_again_is_refused_with_the_fix():
    message = refusal(slurm(2, 2, 3, 1, 2))
    assert message.startswith("this Slurm array runs tasks 2 to 3, starting past task 1 (part of an array submitted "
                              "again?), so task 2's shard is not its place in this array: pass `--shard K/N`"), message


def test_slurm_variables_missing_or_not_numbers_are_refused():
    assert refusal({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3"}) == (
        "$SLURM_ARRAY_TASK_MIN is not set, and cnngrade needs it to tell this task's shard: pass --shard K/N")
    assert refusal(slurm(2, 1, 3, 1, 3) | {"SLURM_ARRAY_TASK_ID": "two"}) == (
        "$SLURM_ARRAY_TASK_ID is 'two', not a whole number: pass --shard K/N")
    assert shard_from_env({"SLURM_JOB_ID": "17"}) is None  # a job, not an array


# --------------------------------------------------------------------------- Kubernetes, GitLab, none


def test_a_kubernetes_index_counts_from_0_within_cnngrade_shards():
    assert [shard_from_env({"JOB_COMPLETION_INDEX": str(i), "CNNGRADE_SHARDS": "2"}) for i in (0, 1)] == \
        [Shard(1, 2), Shard(2, 2)]
    assert refusal({"JOB_COMPLETION_INDEX": "2", "CNNGRADE_SHARDS": "2"}) == (
        "Kubernetes' $JOB_COMPLETION_INDEX is 2 but $CNNGRADE_SHARDS is 2, and the indexes of a Job of 2 completions "
        "run from 0 to 1: set CNNGRADE_SHARDS to the Job's `completions` (the same number), or pass --shard K/N")
    assert refusal({"JOB_COMPLETION_INDEX": "1"}) == (
        "$JOB_COMPLETION_INDEX is set (a Kubernetes indexed Job) but not $CNNGRADE_SHARDS: set it to the Job's "
        "`completions`, or pass --shard K/N")
    assert refusal({"JOB_COMPLETION_INDEX": "0", "CNNGRADE_SHARDS": "0"}).startswith("$CNNGRADE_SHARDS is 0: set it")


def test_a_gitlab_node_counts_from_1_within_its_total():
    assert shard_from_env({"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}) == Shard(3, 3)
    assert refusal({"CI_NODE_INDEX": "4", "CI_NODE_TOTAL": "3"}) == (
        "GitLab's $CI_NODE_INDEX is 4 but $CI_NODE_TOTAL is 3, and the index of a job of `parallel: 3` runs from 1 "
        "to 3: leave both variables to GitLab's `parallel: N`, or pass --shard K/N")
    assert refusal({"CI_NODE_INDEX": "1"}).startswith("$CI_NODE_TOTAL is not set")
    assert shard_from_env({"CI_NODE_TOTAL": "1"}) is None  # GitLab sets it to 1 in every job not `parallel:`


def test_cnngrade_shards_alone_is_refused_and_nothing_is_the_whole_class():
    assert refusal({"CNNGRADE_SHARDS": "3"}) == (
        "$CNNGRADE_SHARDS is '3' but no job array says which shard this is (no $SLURM_ARRAY_TASK_ID, "
        "$JOB_COMPLETION_INDEX or $CI_NODE_INDEX): pass --shard K/N, or unset CNNGRADE_SHARDS to grade the whole "
        "class")
    assert shard_from_env({}) is None


# --------------------------------------------------------------------------- merge

#: a class of 24 students (6, 6 and 12 in shards 1/3, 2/3, 3/3)
CLASS = [f"student{i:02d}" for i in range(24)]
SUBMISSIONS = "/courses/cnn/submissions"


def write_shard(out: Path, k: int, n: int, *, finished: bool = True, status: dict[str, str] | None = None,
                graded: int | None = None) -> list[str]:
    """Shard ``k/n`` of :data:`CLASS` as a batch leaves it in ``out``: its first ``graded`` students (default
    all) each with a folder, status ``graded`` unless ``status`` says otherwise; its students."""
    students = [name for name in CLASS if Shard(k, n).holds(name)]
    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(students[:graded]):
        state = (status or {}).get(name, "graded")
        record = Record(name, name, f"{name}.py", state, "f" * 16, score=float(i), max_score=20.0,
                        checks={"test_net_builds": float(i)}, seconds=1.5, backend="in-process",
                        reason="internal error" if state == "error" else "")
        write_student(out, record, {"score": float(i)}, f"# {name}\n")
    write_gradebook(out, read_records(out).values())
    manifest = {"shard": [k, n], "class": CLASS, "students": students, "submissions": SUBMISSIONS,
                "finished": finished, "errors": [name for name, state in (status or {}).items() if state == "error"]}
    (out / MANIFEST).write_text(json.dumps(manifest))
    return students


def merge_refusal(folders: list[Path], out: Path) -> str:
    with pytest.raises(MergeError) as caught:
        merge(folders, out)
    return str(caught.value)


def test_finished_shards_merge_into_the_whole_class(tmp_path):
    folders = [tmp_path / f"grades-{k}" for k in (1, 2, 3)]
    for k, folder in enumerate(folders, 1):
        write_shard(folder, k, 3)
    merged = merge(folders, tmp_path / "grades")
    assert sorted(merged) == CLASS
    assert (tmp_path / "grades" / "gradebook.csv").read_text().count("\n") == 1 + len(CLASS)
    manifest = json.loads((tmp_path / "grades" / MANIFEST).read_text())
    assert manifest == {"shard": [1, 1], "class": CLASS, "students": CLASS, "submissions": SUBMISSIONS,
                        "merged": [str(f) for f in folders], "finished": True, "errors": []}


def test_a_shard_whose_batch_has_not_finished_is_a_gap_named_with_what_to_run(tmp_path):
    folders = [tmp_path / f"grades-{k}" for k in (1, 2, 3)]
    write_shard(folders[0], 1, 3)
    students = write_shard(folders[1], 2, 3, finished=False, graded=0)
    write_shard(folders[2], 3, 3)
    assert len(students) > 5
    shown = ", ".join(students[:5]) + f" and {len(students) - 5} more"
    assert merge_refusal(folders, tmp_path / "grades") == (
        f"1 shard is not finished (a gap):\n  shard 2/3 ({folders[1]}): its batch has not finished: {len(students)} "
        f"of its {len(students)} students not graded ({shown}). Run `cnngrade batch {SUBMISSIONS} --out "
        f"{folders[1]} --shard 2/3` (with the options it was graded with) to finish it")
    assert not (tmp_path / "grades").exists()
    write_shard(folders[1], 2, 3, finished=False)  # every student graded, but no final marker: still a gap
    assert "shard 2/3 (" in merge_refusal(folders, tmp_path / "grades")


def test_a_shard_with_errors_of_cnngrades_is_a_gap(tmp_path):
    folders = [tmp_path / f"grades {k}" for k in (1, 2, 3)]
    failed = {name: "error" for name in CLASS[:3]}
    for k, folder in enumerate(folders, 1):
        write_shard(folder, k, 3, status=failed)
    message = merge_refusal(folders, tmp_path / "grades")
    lines = message.splitlines()
    by_shard = {k: [n for n in CLASS[:3] if Shard(k, 3).holds(n)] for k in (1, 2, 3)}
    erring = [k for k in (1, 2, 3) if by_shard[k]]
    assert lines[0] == f"{len(erring)} shard{'s are' if len(erring) > 1 else ' is'} not finished (a gap):"
    for line, k in zip(lines[1:], erring, strict=True):
        assert line == (f"  shard {k}/3 ({folders[k - 1]}): {len(by_shard[k])} of its students "
                        f"({', '.join(by_shard[k])}) ended in an error of cnngrade's (status `error`). Run `cnngrade "
                        f"batch {SUBMISSIONS} --out '{folders[k - 1]}' --shard {k}/3` (with the options it was graded "
                        "with) to finish it")


def test_overlaps_missing_shards_and_other_splits_are_refused_saying_what_to_do(tmp_path):
    folders = [tmp_path / f"grades-{k}" for k in (1, 2, 3)]
    for k, folder in enumerate(folders, 1):
        write_shard(folder, k, 3)
    write_shard(tmp_path / "again-1", 1, 3)
    assert merge_refusal([*folders, tmp_path / "again-1"], tmp_path / "m") == (
        f"shard 1/3 is given twice: {folders[0]} and {tmp_path / 'again-1'} (an overlap): give merge one folder per "
        "shard, leaving one of these two out")
    assert merge_refusal(folders[:2], tmp_path / "m") == (
        f"shard 3/3 is missing (a gap): grade it with `cnngrade batch {SUBMISSIONS} --out FOLDER --shard 3/3` and "
        "give merge that folder too")
    assert merge_refusal(folders[:1], tmp_path / "m") == (
        f"shards 2/3, 3/3 are missing (a gap): grade each with `cnngrade batch {SUBMISSIONS} --out FOLDER --shard "
        "K/3` (K = 2, 3), each into a folder of its own, and give merge those folders too")
    write_shard(tmp_path / "half-1", 1, 2)
    assert merge_refusal([folders[0], tmp_path / "half-1"], tmp_path / "m") == (
        f"shard 1/2 ({tmp_path / 'half-1'}) and shard 1/3 ({folders[0]}) belong to different splits (N = 2 and 3): "
        "merge the folders of one split, every `--shard K/N` with the same N")
    assert merge_refusal(folders, folders[2]) == (
        f"--out {folders[2]} is one of the shards' folders: merge into a folder of its own")
    (tmp_path / "empty").mkdir()
    assert merge_refusal([folders[0], tmp_path / "empty"], tmp_path / "m") == (
        f"{tmp_path / 'empty'} is not the output folder of a `cnngrade batch` (it has no {MANIFEST}): give merge the "
        "--out folders of the shards' batches")
    assert not (tmp_path / "m").exists()


def test_the_command_takes_folders_relative_to_where_it_is_typed(tmp_path, monkeypatch, capsys):
    for k in (1, 2):
        write_shard(tmp_path / f"grades-{k}", k, 2)
    monkeypatch.chdir(tmp_path)
    assert merge_command.main(["grades-1", "grades-2", "--out", "grades"]) == 0
    assert capsys.readouterr().out == \
        f"cnngrade merge: {len(CLASS)} students from 2 shards; gradebook: grades/gradebook.csv\n"
    assert json.loads((tmp_path / "grades" / MANIFEST).read_text())["merged"] == \
        [str(tmp_path / "grades-1"), str(tmp_path / "grades-2")]
    assert merge_command.main(["grades-1", "--out", "again"]) == 1
    assert capsys.readouterr().err.startswith("cnngrade merge: shard 2/2 is missing (a gap): grade it with")
