"""Privacy: the classification policy (one versioned file, every contract column), keyed tokens for join
keys, display masks, generalisation and free-text scrubbing. Applied when rows leave the restricted raw
zone for ``staged/``; nothing downstream sees a raw personal value."""
