"""TraceExtract: episodes → 3D interaction traces (DESIGN.md §1); simulator ground truth lives here too."""
