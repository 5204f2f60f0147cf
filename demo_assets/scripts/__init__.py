"""Demo scripts of a FastOpp-style app (saved in demo_assets/, removed by `oppdemo.py destroy`)."""
