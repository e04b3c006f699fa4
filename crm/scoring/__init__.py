"""Credit risk and customer analytics: customer 360, related-party graph, financial ratios, scorecards,
five-category classification, drift. Plain Python + pandas; the Dagster assets call these."""
