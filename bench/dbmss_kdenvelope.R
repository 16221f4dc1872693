# Times R dbmss's KdEnvelope (global envelope, simulations as in Duranton & Overman 2005) on a
# points file, for bench/kdensity.py's baseline B. Run by that bench as
#   Rscript dbmss_kdenvelope.R POINTS.csv N_SIMULATIONS RMAX N_R
# POINTS.csv: columns x, y (km), type ("target" is the industry measured).
# Prints "seconds <elapsed>" for the KdEnvelope call alone.
suppressMessages(library(dbmss))
args <- commandArgs(trailingOnly = TRUE)
pts <- read.csv(args[1])
n_sims <- as.integer(args[2])
r <- seq(0, as.numeric(args[3]), length.out = as.integer(args[4]))
X <- wmppp(data.frame(X = pts$x, Y = pts$y, PointType = factor(pts$type)),
           window = owin(range(pts$x), range(pts$y)))
set.seed(1)
t <- system.time(
  KdEnvelope(X, r = r, NumberOfSimulations = n_sims, Alpha = 0.05, ReferenceType = "target",
             Global = TRUE, verbose = FALSE)
)
cat("seconds", t[["elapsed"]], "\n")
cat("dbmss", as.character(packageVersion("dbmss")), "\n")
