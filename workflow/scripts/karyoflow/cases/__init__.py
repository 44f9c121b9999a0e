"""Cases: several cells of one patient. The sample sheet that groups images into cases
(`samples`) and the case karyotype written from the per-cell calls by ISCN's clone rules
(`iscn`). Imports only the core."""
