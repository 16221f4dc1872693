# Reference values for tests/measure from two independent R implementations, run on the same data
# as our tests:
#   EconGeo (P.-A. Balland), github PABalland/EconGeo @ 420c3c5d04a20e9b27f6e03a464ca1043242cfa9
#   REAT 3.0.3 (T. Wieland), CRAN source mirror cran/REAT @ 602f988441a73dc8b4f79e651027b508824c8e5d
# Usage: Rscript make_reference.R ECONGEO_R_DIR REAT_DIR   (the packages' R/ folder and REAT's root)
# Only base R is needed: the packages' functions are source()d, not installed.
args <- commandArgs(trailingOnly = TRUE)
econgeo <- args[1]; reat <- args[2]
for (f in c("locational.Gini.r", "Hoover.index.r", "Krugman.index.r", "location.quotient.r"))
  source(file.path(econgeo, f))
for (f in c("ellison.a.R", "ellison.a2.R", "herf.R")) source(file.path(reat, "R", f))
load(file.path(reat, "data", "FK2014_EGC.rda"))
write.csv(FK2014_EGC, "fk2014_egc.csv", row.names = FALSE)

out <- data.frame(dataset = character(), measure = character(), implementation = character(),
                  key = character(), value = numeric())
add <- function(dataset, measure, impl, key, value) {
  out <<- rbind(out, data.frame(dataset = dataset, measure = measure, implementation = impl,
                                key = as.character(key), value = as.numeric(value)))
}
econgeo_all <- function(dataset, mat) {
  lg <- locational.Gini(mat)
  add(dataset, "locational_gini", "EconGeo::locational.Gini", lg$Industry, lg$Loc.Gini)
  ho <- Hoover.index(mat, pop = rowSums(mat))   # percent, rounded to 2 decimals by EconGeo
  add(dataset, "hoover_percent", "EconGeo::Hoover.index(pop=rowSums)", ho$Industry, ho$Hoover.index)
  kr <- Krugman.index(mat)
  add(dataset, "krugman", "EconGeo::Krugman.index", rownames(mat), kr)
  lq <- location.quotient(mat)
  add(dataset, "lq", "EconGeo::location.quotient",
      paste(rep(rownames(mat), ncol(mat)), rep(colnames(mat), each = nrow(mat)), sep = "|"),
      as.vector(lq))
}

# 1. EconGeo's documented example matrix (regions R1..R5 x industries I1..I5).
mat <- matrix(c(100, 0, 0, 0, 0,
                0, 15, 5, 70, 10,
                0, 20, 10, 20, 50,
                0, 25, 30, 5, 40,
                0, 40, 55, 5, 0), ncol = 5, byrow = TRUE)
rownames(mat) <- paste0("R", 1:5); colnames(mat) <- paste0("I", 1:5)
econgeo_all("econgeo_example", mat)

# 2. REAT ellison.a's documented example (Farhauer/Kroell 2014): one industry, given region totals.
j <- c("Wien", "Wien", "Wien", "Wien", "Wien", "Linz", "Linz", "Linz", "Linz", "Graz")
E_ik <- c(200, 650, 12000, 100, 50, 16000, 13000, 1500, 1500, 25000)
E_j <- c(500000, 400000, 100000)
r <- ellison.a(E_ik, E_j, j, print.results = FALSE)
add("reat_ellison_a_example", "gamma", "REAT::ellison.a", "i", r[1, 1])
add("reat_ellison_a_example", "G", "REAT::ellison.a", "i", r[1, 2])
add("reat_ellison_a_example", "z", "REAT::ellison.a", "i", r[1, 3])
add("reat_ellison_a_example", "H", "REAT::ellison.a", "i", r[1, 5])

# 3. EG per industry: FK2014_EGC (x_i from all industries in the data) and our random plants.
eg_all <- function(dataset, emp, industry, region) {
  r <- ellison.a2(emp, industry, region, print.results = FALSE)
  for (m in list(c(1, "gamma"), c(2, "G"), c(3, "z"), c(5, "H")))
    add(dataset, m[2], "REAT::ellison.a2", rownames(r), r[, as.integer(m[1])])
}
eg_all("fk2014_egc", FK2014_EGC$emp_firm, as.character(FK2014_EGC$industry),
       as.character(FK2014_EGC$region))
plants <- read.csv("random_plants.csv", stringsAsFactors = FALSE)
eg_all("random_plants", plants$employment, plants$industry, plants$region_code)
pm <- tapply(plants$employment, list(plants$region_code, plants$industry), sum)
pm[is.na(pm)] <- 0
econgeo_all("random_plants", pm)

write.csv(out, "r_reference.csv", row.names = FALSE)
cat(R.version.string, "\n")
