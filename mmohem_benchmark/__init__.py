"""The embedded benchmark of mmohem: not part of the product.

- ``mmohem demo`` (:mod:`.demo`, :mod:`.train_one`): RandomSampler, mmdet's
  OHEMSampler and mmohem's trained side by side on a generated shapes set
  (:mod:`.shapes`, :mod:`.proposals`), with pictures (:mod:`.plots`);
- ``mmohem ablate`` (:mod:`.ablation`): one change from mmohem's default per
  row, some through the research-only samplers (:mod:`.research_samplers`,
  registered under the scope ``mmohem_benchmark``);
- ``mmohem sweep`` (:mod:`.sweep`): every two-stage config mmdet ships,
  one step each on a synthetic batch (:mod:`.synthetic_batch`);
- the tree set (:mod:`.trees`): real aerial images for the ``trees_fast``
  and ``trees_faster`` regimes, fetched with ``pip download`` and cached;
- :mod:`.verdict`: the one rule for when a gain counts;
- :mod:`.markdown`: tables written between markers into the docs.

:data:`SAMPLER_LABELS` names the three samplers compared: its keys are the
names every benchmark uses for them (configs, results, ablation rows).
"""
# name -> label (in tables and plots) of the samplers every benchmark
# compares
SAMPLER_LABELS = {
    'random': 'RandomSampler',
    'mmdet_ohem': "mmdet's OHEMSampler",
    'mmohem': 'mmohem.OHEMSampler',
}
