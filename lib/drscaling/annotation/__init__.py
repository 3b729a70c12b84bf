"""Annotation quality (the paper's Section 5), one module per concept:

- :mod:`.methods`: the ways of annotating a pair (human, noisy human, ICT, crop, keywords,
  generated) and their settings;
- :mod:`.generator`: the query generator trained here, and decoding queries with any local model;
- :mod:`.copy_t5`: the generator's T5 with a copy mechanism;
- :mod:`.pairs`: a dataset's pairs made by a method, kept beside the prepared data;
- :mod:`.study`: notebook 04's study: which methods run, a data-size law per method, exchange
  rates.
"""
