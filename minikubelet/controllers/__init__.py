"""Controllers (the controller manager): each a reconcile function from the store's state to
the changes it wants, run by one small loop. Workload controllers live here."""
