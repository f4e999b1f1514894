"""What a verdict may claim: intervals, error control, judge correction, power.

- `intervals`: one-sided bounds on a fixed grid of levels, so that a check can
  be judged later at whatever level the policy's multiplicity method assigns
  it (Clopper-Pearson for proportions, percentile bootstrap with a fallback).
- `disparity`: simultaneous intervals for between-group differences and ratios.
- `multiplicity`: Holm and Bonferroni across the checks of one decision.
- `judged`: rates measured by an automatic judge, corrected for its measured
  sensitivity and specificity (Rogan-Gladen) with its validation uncertainty.
- `power`: the smallest sample that could pass, and the smallest effect a
  sample detects.
"""
