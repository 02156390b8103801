"""Domain events: what happened, in past tense, carrying ids and codes, never PHI."""
