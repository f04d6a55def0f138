"""How bytes move: a lean HTTP/2 client (connection pool, h2/hpack binding, error table) and the
process's push event loop. Imports nothing of django_push outside this package."""
