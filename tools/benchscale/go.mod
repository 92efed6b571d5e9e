module github.com/harender/harender/tools/benchscale

go 1.26
