"""The trusted side of the trust boundary: the grader.

* :mod:`.plugin`: the pytest plugin that turns ``graders/`` into a grader (fixtures, points, the
  score report, ``results.json``), activated by the light entry point :mod:`cnngrade.plugin`
  with the options of :mod:`.options`, for the submissions of :mod:`.submissions`;
* :mod:`.scoring`: points per check, the score table, Gradescope's results schema;
* :mod:`.feedback`: failing a check with a sentence for the student;
* :mod:`.inputs`, :mod:`.speed`, :mod:`.accuracy`, :mod:`.questions`: what the checks feed the
  submission and how they judge its answers, all computed in this process;
* :mod:`.checks`, :mod:`.op_graphs`: checks several graders share, and the operator graphs of
  "written from scratch", which the grader validates and runs itself;
* :mod:`.invocation`: the pytest command line of a grading, and grading in a fresh process.

Nothing here imports student code; it reaches submissions only through :mod:`cnngrade.submission`'s
handle. Importing this package imports nothing (its modules are imported where used).
"""
