// Package fleet runs the three builds of the reference app side by side on
// one Redis (contract.RunFleet), as a fleet migrating between frameworks
// does. Its test is the package.
package fleet
