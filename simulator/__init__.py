"""The sandbox gateway: both API versions over one store, as a merchant meets them.

Everything the gateway knows about the API - operations, codes, channels,
limits, the signing rule - it reads at start-up from the published specs, and
it signs, verifies and validates with the generated SDKs' own code.
"""
