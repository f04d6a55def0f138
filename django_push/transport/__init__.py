"""How bytes move: HTTP/2 client, connection pool and its limits. Imports nothing of django_push."""
