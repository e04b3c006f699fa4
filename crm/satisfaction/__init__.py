"""Customer satisfaction analytics: CSAT/NPS by group and over time, key drivers, complaint themes, SLA."""
