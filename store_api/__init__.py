"""The Store API: its contract (`contract`), the reference server (`server`) and the client
the activities use (`client`). See ../shared/spec/store-api.md."""
