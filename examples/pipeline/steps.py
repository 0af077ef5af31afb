"""Steps of the pipeline example; each runs in its own container."""
import csv
import json

import digdag


def extract(source):
    with open(source) as f:
        rows = list(csv.DictReader(f))
    with open("data/rows.json", "w") as f:
        json.dump(rows, f)
    digdag.env.store({"orders": len(rows)})


def summarize(orders):
    with open("data/rows.json") as f:
        rows = json.load(f)
    per_customer = {}
    for row in rows:
        per_customer[row["customer"]] = per_customer.get(row["customer"], 0) + int(row["amount"])
    top = max(per_customer, key=per_customer.get)
    digdag.env.store({"total": sum(per_customer.values()), "top_customer": top})
    print("summarized %s orders" % orders)
