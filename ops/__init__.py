"""Operating Careloop: redriving dead letters, the cost model."""
