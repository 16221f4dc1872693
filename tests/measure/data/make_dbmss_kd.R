# Reference values of Duranton-Overman Kd and Kemp from R's dbmss, for tests/measure/test_kdensity_dbmss.py.
# Run from this folder: Rscript make_dbmss_kd.R   (writes kd_dbmss.csv)
suppressMessages(library(dbmss))
pts <- read.csv("kd_points.csv")
X <- wmppp(data.frame(X = pts$x, Y = pts$y, PointType = factor(pts$industry),
                      PointWeight = pts$employment), window = owin(c(-1, 11), c(-1, 11)))
# r up to 9: 2 * max(r) exceeds every distance between type-A points, so dbmss's bandwidth
# (bw.nrd0 of distances <= 2 rmax) uses all pairs, as ours does.
r <- seq(0, 9, by = 0.25)
kd <- Kdhat(X, r = r, ReferenceType = "A", Weighted = FALSE, Approximate = 0)
kemp <- Kdhat(X, r = r, ReferenceType = "A", Weighted = TRUE, Approximate = 0)
out <- data.frame(r = r, kd = kd$Kd, kemp = kemp$Kd)
write.csv(out, "kd_dbmss.csv", row.names = FALSE)
cat(R.version.string, "\n")
cat("dbmss", as.character(packageVersion("dbmss")), "\n")
