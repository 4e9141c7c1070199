"""The sample company (Brightwater Analytics GmbH), shipped as package data for `orgkb init --sample`."""
