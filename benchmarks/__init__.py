"""coven-trio benchmarks: ratios against peers and limits, measured in one run.

python -m benchmarks            # everything, prints the table (under 5 minutes)
python -m benchmarks --smoke    # tiny sizes, correctness only (CI)
"""
