"""Prevention education: programmes for kindergartens and schools, deliveries, anonymous surveys, effect by audience."""
