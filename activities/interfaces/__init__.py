"""What the workflow may ask of the outside world: one module per outside system, each with
its request/response models and an abstract activity class whose methods the workflow calls
by typed reference (`workflow.execute_activity_method(StoreActivities.create_draft, ...)`).

No I/O here and nothing that does I/O is imported: the workflow sandbox loads these modules,
and so do the edge and the CLI tools that read workflow state. The implementations live
beside this package (`activities/store.py` implements `interfaces/store.py`, and so on).
"""
