"""The object store (the API server's storage, in memory): typed objects with resource
versions, selectors and watch."""
