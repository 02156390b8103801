"""Operating Careloop: redriving dead letters (redrive), the cost model (cost)."""
