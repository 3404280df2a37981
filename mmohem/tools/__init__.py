"""User tools: the ``mmohem`` command line (:mod:`.cli`), ``mmohem
convert`` (:mod:`.convert`), swapping a config's R-CNN samplers
(:mod:`.config_swap`) and finding shipped configs (:mod:`.config_files`)."""
