"""One thin module per Lambda: parse → settings and policy → read → decide → act → record → publish."""
