"""karyoflow: metaphase images -> chromosomes -> karyograms and karyotype calls.

One package per stage, in the chain's order, over a shared core:
core (formats, images, labels, bands, masks, boxes, polarity, plots), data, detect,
segment, crops, straighten, classify, karyotype. A module imports the core and its own or
earlier stages only (tests/test_layout.py); `config` checks a whole configuration."""
