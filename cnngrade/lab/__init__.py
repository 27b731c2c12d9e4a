"""What a lab is, apart from any submission: its configuration, its file contract, its templates.

* :mod:`.config`: ``lab.toml``, every threshold and point value of the lab;
* :mod:`.schema`: every setting of ``lab.toml``, its type and meaning; :mod:`.validation`: whether the
  settings agree (a lab with a problem grades no one);
* :mod:`.parts`: which file of a submission holds which graded names;
* :mod:`.release`: the student templates, generated from the reference's solution markers.

Light: nothing here imports torch, but :mod:`.validation` and :mod:`.outputs`.
"""
