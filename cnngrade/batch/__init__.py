"""Grading a whole class: ``cnngrade batch``, ``cnngrade merge``.

Modules: :mod:`.intake` (one student per entry of the submissions folder, unpacked and checked),
:mod:`.atomic` (files and folders that appear whole or not at all), :mod:`.shards` (which students a
machine grades), :mod:`.warm` (grading runs forked from one process that imported everything),
:mod:`.gradebook` (per-student records and the CSV), :mod:`.runner` (the batch itself),
:mod:`.merge` (shards joined into one gradebook).
"""
