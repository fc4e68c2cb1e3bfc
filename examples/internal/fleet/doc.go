// Package fleet runs the three builds of the reference app side by side on
// one Redis (contract.RunFleet), as a fleet migrating between frameworks
// does, and again over connections that lose or stall the replies of Lua
// scripts (contract.RunFleetFaulty), where a request failed on one
// instance is retried on another. Its test is the package.
package fleet
