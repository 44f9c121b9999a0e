"""The shared core: file formats, safe image reading, labels, the band table, masks, box
matching, polarity, ISCN notation, tables, logging, provenance and figure helpers.
It imports no stage and neither TensorFlow nor torch."""
