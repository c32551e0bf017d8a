module certwasm.dev/charttools

go 1.24
