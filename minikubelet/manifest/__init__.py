"""The boundary: untrusted YAML/JSON text becomes typed, defaulted, validated objects, or
errors in the API server's words. Nothing past this package sees a raw manifest dict."""
