"""Admin registrations live in submodules; imported here so ``admin.autodiscover`` finds them."""
