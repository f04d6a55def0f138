"""Devices: registration (upsert, takeover rules, Web Push moves), lifecycle (activate, deactivate,
apply a service's answers) and cleanup. Below dispatch; above the models."""
