module github.com/redisware/redisware/examples/browser

go 1.26.0

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect

// The tests run the reference app of the library in this repository,
// built from its own module; anything this module takes from the library
// is the working tree's too, never a published version.
replace github.com/redisware/redisware => ../..
