"""Data stage: ingestion of image sets (VOC, zip, Kaggle), the synthetic generator
(`data.synth`), splits by image or case, and the dataset summary."""
