"""The ENT portal's scaling: HAProxy runtime client, pure controller, scaler, load harness."""
