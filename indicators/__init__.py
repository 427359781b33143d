"""Assessment indicators (GB/T 30428, as cities compute them) as pure functions.

- `indicators.measures`: what is counted, with its Chinese name and the day it is counted on.
- `indicators.ledger`: what one case contributes to the counts, folded from its history rows; the stream
  keeps the sums current from it and the check recomputes them from it.
- `indicators.formulas`: rates, the composite score (its weights are stated there, once), the small-count
  shrinkage and staffing, from summed counts.

No Kafka, HTTP or database here.
"""
