# Local envelopes (5% and 95% quantiles of 999 counterfactuals) of Kd and Kemp from R's dbmss,
# for tests/measure/test_kdensity_dbmss.py. Run from this folder: Rscript make_dbmss_envelope.R
suppressMessages(library(dbmss))
set.seed(20261128)
pts <- read.csv("kd_points.csv")
X <- wmppp(data.frame(X = pts$x, Y = pts$y, PointType = factor(pts$industry),
                      PointWeight = pts$employment), window = owin(c(-1, 11), c(-1, 11)))
r <- seq(0, 9, by = 0.5)
# Alpha = 0.10: dbmss's local envelope is the (Alpha/2, 1 - Alpha/2) = (5%, 95%) quantiles.
# RandomLocation permutes the marks (type and weight) over all points: the DO null.
kd <- KdEnvelope(X, r = r, NumberOfSimulations = 999, Alpha = 0.10, ReferenceType = "A",
                 Weighted = FALSE, Approximate = 0, verbose = FALSE)
kemp <- KdEnvelope(X, r = r, NumberOfSimulations = 999, Alpha = 0.10, ReferenceType = "A",
                   Weighted = TRUE, Approximate = 0, verbose = FALSE)
out <- data.frame(r = r, kd_lo = kd$lo, kd_hi = kd$hi, kemp_lo = kemp$lo, kemp_hi = kemp$hi)
write.csv(out, "kd_dbmss_envelope.csv", row.names = FALSE)
cat(R.version.string, "\n")
cat("dbmss", as.character(packageVersion("dbmss")), "\n")
