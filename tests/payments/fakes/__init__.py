"""Contract-faithful fake Daraja, MTN MoMo and Orange Money servers (real HTTP, loopback).

Independent peers of the gateway: they import nothing from it. See ``base.FakeProvider`` for
the knobs every fake has (faults, delays, token expiry, recorded requests, callbacks) and
each module for its scenarios.
"""
