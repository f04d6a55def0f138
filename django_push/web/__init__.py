"""Browser-facing views outside the API: the Web Push service worker at the site root."""
